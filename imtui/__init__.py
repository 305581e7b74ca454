"""imtui: web-shop orders to a WMS and back, with every failure turned into an alert."""

__version__ = "0.1.0"
