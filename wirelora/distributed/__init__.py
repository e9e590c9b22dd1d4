"""wirelora.distributed"""
