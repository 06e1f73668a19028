"""Top tagging: preprocessing, substructure, models, training and evaluation of the landscape-style comparison."""
