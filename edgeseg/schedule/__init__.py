"""Keyframe scheduling: which frames run the feature network."""
