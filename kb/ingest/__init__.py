"""Posts on disk → sections → index entries: reading post files, splitting them into sections, the entry layout."""
