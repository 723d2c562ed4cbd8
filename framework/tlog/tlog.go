// Package tlog makes a zerolog logger the Temporal SDK's logger, so the worker, the
// SDK and our activities write one structured log stream.
package tlog

import (
	"fmt"

	"github.com/rs/zerolog"
	"go.temporal.io/sdk/log"
)

// Logger adapts zerolog to go.temporal.io/sdk/log.Logger (and log.WithLogger).
type Logger struct{ z zerolog.Logger }

// New wraps z.
func New(z zerolog.Logger) *Logger { return &Logger{z: z} }

var (
	_ log.Logger     = (*Logger)(nil)
	_ log.WithLogger = (*Logger)(nil)
)

func (l *Logger) Debug(msg string, keyvals ...any) { l.event(l.z.Debug(), msg, keyvals) }
func (l *Logger) Info(msg string, keyvals ...any)  { l.event(l.z.Info(), msg, keyvals) }
func (l *Logger) Warn(msg string, keyvals ...any)  { l.event(l.z.Warn(), msg, keyvals) }
func (l *Logger) Error(msg string, keyvals ...any) { l.event(l.z.Error(), msg, keyvals) }

// With returns a logger that adds keyvals to every event.
func (l *Logger) With(keyvals ...any) log.Logger {
	ctx := l.z.With()
	for i := 0; i < len(keyvals); i += 2 {
		k, v := pair(keyvals, i)
		ctx = ctx.Interface(k, v)
	}
	return &Logger{z: ctx.Logger()}
}

func (l *Logger) event(e *zerolog.Event, msg string, keyvals []any) {
	if e == nil { // level disabled
		return
	}
	for i := 0; i < len(keyvals); i += 2 {
		k, v := pair(keyvals, i)
		if err, ok := v.(error); ok {
			e = e.AnErr(k, err)
			continue
		}
		e = e.Interface(k, v)
	}
	e.Msg(msg)
}

func pair(kv []any, i int) (string, any) {
	k := fmt.Sprint(kv[i])
	if i+1 >= len(kv) {
		return k, "(missing value)"
	}
	return k, kv[i+1]
}
