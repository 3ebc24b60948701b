# softfk's container image. pg_query_go compiles libpg_query with cgo, so
# the build stage needs a C compiler (the golang image has gcc).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -trimpath -o /out/softfk ./cmd/softfk

FROM debian:bookworm-slim
RUN useradd --system --no-create-home softfk
COPY --from=build /out/softfk /usr/local/bin/softfk
USER softfk
EXPOSE 6432 9187
ENTRYPOINT ["softfk"]
CMD ["serve", "--config", "/etc/softfk/softfk.yaml", "--listen", "0.0.0.0:6432"]
