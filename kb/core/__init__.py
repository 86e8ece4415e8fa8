"""What every stage shares: the errors users meet, the dataclasses between stages, settings, safe file access and the derived-file cache."""
