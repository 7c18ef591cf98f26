"""Feature engineering: customer demographics, temporal statistics, SKU representations."""
