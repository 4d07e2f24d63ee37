"""Storage on the server's disk: the result cache (diskcache) and the files visitors upload."""
