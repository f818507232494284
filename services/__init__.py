"""Herald's four stream-processing services, one package each, each a faust-streaming app."""
