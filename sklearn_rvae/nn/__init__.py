"""PyTorch modules behind the package's estimators."""
