"""The decisions feed for core banking and the credit bureau: ``decisions(first, after)``."""
