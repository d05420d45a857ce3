"""Chat: load models under a memory budget, stream replies side by side, blind arena votes, batch compare."""
