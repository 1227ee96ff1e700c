"""Hidden graders and instructor tools for the VAE homework."""
