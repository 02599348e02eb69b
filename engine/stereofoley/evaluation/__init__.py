"""Evaluation tools beside the pipeline: the object-aware stereo metric (`metric`), synthetic scenes with exact
ground truth (`synthetic`), training pairs (`dataset`) and result reports (`report`)."""
