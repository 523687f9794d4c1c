print("divergence benchmark: not yet written")
