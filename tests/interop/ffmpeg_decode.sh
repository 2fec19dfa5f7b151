#!/usr/bin/env bash
# ffmpeg -xerror decodes every frame of our archives and prints nothing.
source "$(dirname "$0")/lib.sh"
ffmpeg_decodes_clean "$WORK/live.wmv"
ffmpeg_decodes_clean "$WORK/file.wmv"
