"""wirelora.correction"""
