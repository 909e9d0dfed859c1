"""The ops domain keeps no data of its own."""
