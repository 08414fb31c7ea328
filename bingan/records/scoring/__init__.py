"""Final quality scoring (终末质控): scoring standards as versioned data, sampling tasks, scores."""
