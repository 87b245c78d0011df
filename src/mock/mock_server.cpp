// The mock upstream server (being written).
