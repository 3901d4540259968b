// Command newswire runs the wire pipeline: `newswire run` for everything in
// one process on an embedded NATS server, or one stage per process against
// a NATS cluster. See `newswire help`.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/newswire/newswire/redact"
)

const usage = `newswire — wire ingestion and story synthesis on NATS JetStream

Usage:
  newswire run [--config FILE]              everything in one process on the embedded server
  newswire collect [--config FILE]          collectors only, against nats.urls
  newswire normalize [--config FILE]        normalizer only
  newswire synth [--config FILE]            synthesizer only
  newswire serve [--config FILE]            HTTP API only
  newswire replay FILE [--speed N] [--config FILE]
                                            publish a replay file as raw items
  newswire eval FILE [--assignments OUT] [--orders] [--explain OUT] [--json]
                                            score story clustering on a labelled file
  newswire train FILE... [--out model.json] fit the join model on labelled files (synth.model)
  newswire topology [--config FILE]         create or update the streams and buckets (as the NATS admin user)
  newswire tail [--config FILE] [--last N] [--kind K] [--source S] [--json]
                                            print the live wire
  newswire stories [--config FILE] [--active] [--limit N] [--json]
                                            stories ranked as on /stories
  newswire story ID [--config FILE] [--format md|json|html]
                                            one story with brief, citations and provenance
  newswire config check [FILE]              report every error in a config file
  newswire telegram login [--phone N] [--code-file F] [--password-file F]
                                            sign the Telegram account in once (ingest/telegram)
  newswire sources [--config FILE] [--json] list sources with their health (errors, last/next poll)
  newswire sources import FILE.opml [--into CONFIG.yaml]
                                            print OPML feeds as YAML sources, or add them to CONFIG.yaml

With no --config, the built-in default (deploy/newswire.yaml) is used.
Every command lists its flags with an example: newswire COMMAND --help.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := dispatch(ctx, os.Args[1:])
	stop()
	if errors.Is(err, errHelp) {
		return
	}
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(os.Stderr, "newswire: %v\n\n%s", err, usage)
			os.Exit(2)
		}
		fmt.Fprintf(os.Stderr, "newswire: %s\n", redact.String(err.Error()))
		os.Exit(1)
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func dispatch(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError{"no command given"}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return cmdRun(ctx, rest)
	case "collect", "normalize", "synth", "serve":
		return cmdStage(ctx, cmd, rest)
	case "replay":
		return cmdReplay(ctx, rest)
	case "eval":
		return cmdEval(ctx, rest)
	case "train":
		return cmdTrain(ctx, rest)
	case "tail":
		return cmdTail(ctx, rest)
	case "stories":
		return cmdStories(ctx, rest)
	case "story":
		return cmdStory(ctx, rest)
	case "topology":
		return cmdTopology(ctx, rest)
	case "sources":
		return cmdSources(ctx, rest)
	case "telegram":
		return cmdTelegram(ctx, rest)
	case "config":
		if len(rest) == 0 || rest[0] != "check" {
			return usageError{"usage: newswire config check [FILE]"}
		}
		return cmdConfigCheck(rest[1:])
	case "help", "-h", "--help":
		fmt.Print(usage)
		return nil
	}
	return usageError{fmt.Sprintf("unknown command %q", cmd)}
}
