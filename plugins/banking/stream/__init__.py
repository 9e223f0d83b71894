"""The synthetic stream: settings, the stable population, the generator and a window's batch as columns."""
