"""The engine layer: decoding images, extracting features (with the feature and pixel caches), weights, and the
built-in probes. Imports only the contract below it."""
