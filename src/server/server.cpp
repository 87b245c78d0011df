// I/O shell (being written).
