"""wirelora.wireless"""
