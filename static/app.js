// Hạn Chót — progressive enhancement only; every page works without it.
