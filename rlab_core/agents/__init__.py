"""The RL agent: its policy network, the training environment, training, saving and loading.

This package imports Stable-Baselines3 and gymnasium; nothing outside training and the ``rl``
attacks imports it, so that a prediction starts without them.
"""
