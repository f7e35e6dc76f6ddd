"""rnncls: a recurrent (LSTM) digit classifier on MNIST, from the command line."""

__version__ = "0.1.0"
