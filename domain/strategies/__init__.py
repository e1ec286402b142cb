"""Treatment strategies: case segments mapped to timelines of steps, champion/challenger."""
