"""Documents in: the corpus folder and its metadata, cleaned into structure,
then cut into units and chunks with character offsets."""
