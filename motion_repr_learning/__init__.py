"""IVA'19 motion representation learning."""
