// InitProducerId: idempotent producers get a producer id (ProducerState); transactions are not
// supported.
#include "kafka/broker/dispatcher.h"

namespace persisting::kafka {

void Dispatcher::handle(Session&, const RequestHeader& h, InitProducerIdRequest req, const Reply& reply) {
  InitProducerIdResult got = producers_->init_producer_id(req.transactional_id);
  InitProducerIdResponse r;
  r.error_code = error_value(got.error);
  r.producer_id = got.producer_id;
  r.producer_epoch = got.producer_epoch;
  reply.send(response_frame(h, r));
}

}  // namespace persisting::kafka
