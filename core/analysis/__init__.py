"""Numbers read off results: closed forms, fits, sharpness, the hypothesis lab."""
