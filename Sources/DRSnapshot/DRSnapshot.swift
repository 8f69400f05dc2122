import DRBase
