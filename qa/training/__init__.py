"""Fitting the trained parts (embedding fine-tuning, answer model, memory,
calibration) and the training set. Imports the product; the product never
imports it."""
