"""wirelora.experiments"""
