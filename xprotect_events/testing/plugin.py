"""pytest plugin: fixtures that give a running simulator and a connected client."""
