//go:build !unix

package loadtest

// readGenerator knows nothing on systems without getrusage.
func readGenerator() generatorReading { return generatorReading{} }
