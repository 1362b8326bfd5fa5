"""The local XProtect Events API simulator and the pytest plugin."""
