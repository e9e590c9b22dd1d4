"""wirelora.lora"""
