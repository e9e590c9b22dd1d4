"""wirelora.allocation"""
