"""One module per wire protocol; `base` holds what they share."""
