"""Geography: great-circle distances and the store -> customer affiliation."""
