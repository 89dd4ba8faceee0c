"""The vault: one encrypted SQLCipher database per kiosk, its key and its migrations."""
