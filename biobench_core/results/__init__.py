"""The results layer: the results store, metrics, statistics and leaderboard assembly. Imports the engine and the
contract below it."""
