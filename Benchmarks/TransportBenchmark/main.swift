print("transport benchmark: not yet written")
