"""wirelora.learning"""
