"""Task recipes: `python -m recipes.<task>` trains, evaluates, exports and serves."""
