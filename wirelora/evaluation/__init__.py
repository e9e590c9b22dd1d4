"""wirelora.evaluation"""
