"""Control plane benchmarks: Lambda cold start and the token endpoint. Run: python -m bench.control_plane"""
