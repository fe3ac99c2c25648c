package quanze.v1;

import static io.grpc.MethodDescriptor.generateFullMethodName;

/**
 * <pre>
 * DecisionService answers "may this subject take this action on this resource?"
 * </pre>
 */
@javax.annotation.Generated(
    value = "by gRPC proto compiler",
    comments = "Source: quanze/v1/decision_service.proto")
@io.grpc.stub.annotations.GrpcGenerated
public final class DecisionServiceGrpc {

  private DecisionServiceGrpc() {}

  public static final String SERVICE_NAME = "quanze.v1.DecisionService";

  // Static method descriptors that strictly reflect the proto.
  private static volatile io.grpc.MethodDescriptor<quanze.v1.DecisionServiceOuterClass.CheckRequest,
      quanze.v1.DecisionServiceOuterClass.CheckResponse> getCheckMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Check",
      requestType = quanze.v1.DecisionServiceOuterClass.CheckRequest.class,
      responseType = quanze.v1.DecisionServiceOuterClass.CheckResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<quanze.v1.DecisionServiceOuterClass.CheckRequest,
      quanze.v1.DecisionServiceOuterClass.CheckResponse> getCheckMethod() {
    io.grpc.MethodDescriptor<quanze.v1.DecisionServiceOuterClass.CheckRequest, quanze.v1.DecisionServiceOuterClass.CheckResponse> getCheckMethod;
    if ((getCheckMethod = DecisionServiceGrpc.getCheckMethod) == null) {
      synchronized (DecisionServiceGrpc.class) {
        if ((getCheckMethod = DecisionServiceGrpc.getCheckMethod) == null) {
          DecisionServiceGrpc.getCheckMethod = getCheckMethod =
              io.grpc.MethodDescriptor.<quanze.v1.DecisionServiceOuterClass.CheckRequest, quanze.v1.DecisionServiceOuterClass.CheckResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Check"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  quanze.v1.DecisionServiceOuterClass.CheckRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  quanze.v1.DecisionServiceOuterClass.CheckResponse.getDefaultInstance()))
              .setSchemaDescriptor(new DecisionServiceMethodDescriptorSupplier("Check"))
              .build();
        }
      }
    }
    return getCheckMethod;
  }

  private static volatile io.grpc.MethodDescriptor<quanze.v1.DecisionServiceOuterClass.CheckBatchRequest,
      quanze.v1.DecisionServiceOuterClass.CheckBatchResponse> getCheckBatchMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "CheckBatch",
      requestType = quanze.v1.DecisionServiceOuterClass.CheckBatchRequest.class,
      responseType = quanze.v1.DecisionServiceOuterClass.CheckBatchResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<quanze.v1.DecisionServiceOuterClass.CheckBatchRequest,
      quanze.v1.DecisionServiceOuterClass.CheckBatchResponse> getCheckBatchMethod() {
    io.grpc.MethodDescriptor<quanze.v1.DecisionServiceOuterClass.CheckBatchRequest, quanze.v1.DecisionServiceOuterClass.CheckBatchResponse> getCheckBatchMethod;
    if ((getCheckBatchMethod = DecisionServiceGrpc.getCheckBatchMethod) == null) {
      synchronized (DecisionServiceGrpc.class) {
        if ((getCheckBatchMethod = DecisionServiceGrpc.getCheckBatchMethod) == null) {
          DecisionServiceGrpc.getCheckBatchMethod = getCheckBatchMethod =
              io.grpc.MethodDescriptor.<quanze.v1.DecisionServiceOuterClass.CheckBatchRequest, quanze.v1.DecisionServiceOuterClass.CheckBatchResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "CheckBatch"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  quanze.v1.DecisionServiceOuterClass.CheckBatchRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  quanze.v1.DecisionServiceOuterClass.CheckBatchResponse.getDefaultInstance()))
              .setSchemaDescriptor(new DecisionServiceMethodDescriptorSupplier("CheckBatch"))
              .build();
        }
      }
    }
    return getCheckBatchMethod;
  }

  private static volatile io.grpc.MethodDescriptor<quanze.v1.DecisionServiceOuterClass.ListAllowedActionsRequest,
      quanze.v1.DecisionServiceOuterClass.ListAllowedActionsResponse> getListAllowedActionsMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ListAllowedActions",
      requestType = quanze.v1.DecisionServiceOuterClass.ListAllowedActionsRequest.class,
      responseType = quanze.v1.DecisionServiceOuterClass.ListAllowedActionsResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<quanze.v1.DecisionServiceOuterClass.ListAllowedActionsRequest,
      quanze.v1.DecisionServiceOuterClass.ListAllowedActionsResponse> getListAllowedActionsMethod() {
    io.grpc.MethodDescriptor<quanze.v1.DecisionServiceOuterClass.ListAllowedActionsRequest, quanze.v1.DecisionServiceOuterClass.ListAllowedActionsResponse> getListAllowedActionsMethod;
    if ((getListAllowedActionsMethod = DecisionServiceGrpc.getListAllowedActionsMethod) == null) {
      synchronized (DecisionServiceGrpc.class) {
        if ((getListAllowedActionsMethod = DecisionServiceGrpc.getListAllowedActionsMethod) == null) {
          DecisionServiceGrpc.getListAllowedActionsMethod = getListAllowedActionsMethod =
              io.grpc.MethodDescriptor.<quanze.v1.DecisionServiceOuterClass.ListAllowedActionsRequest, quanze.v1.DecisionServiceOuterClass.ListAllowedActionsResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ListAllowedActions"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  quanze.v1.DecisionServiceOuterClass.ListAllowedActionsRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  quanze.v1.DecisionServiceOuterClass.ListAllowedActionsResponse.getDefaultInstance()))
              .setSchemaDescriptor(new DecisionServiceMethodDescriptorSupplier("ListAllowedActions"))
              .build();
        }
      }
    }
    return getListAllowedActionsMethod;
  }

  private static volatile io.grpc.MethodDescriptor<quanze.v1.DecisionServiceOuterClass.GetStatusRequest,
      quanze.v1.DecisionServiceOuterClass.GetStatusResponse> getGetStatusMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "GetStatus",
      requestType = quanze.v1.DecisionServiceOuterClass.GetStatusRequest.class,
      responseType = quanze.v1.DecisionServiceOuterClass.GetStatusResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<quanze.v1.DecisionServiceOuterClass.GetStatusRequest,
      quanze.v1.DecisionServiceOuterClass.GetStatusResponse> getGetStatusMethod() {
    io.grpc.MethodDescriptor<quanze.v1.DecisionServiceOuterClass.GetStatusRequest, quanze.v1.DecisionServiceOuterClass.GetStatusResponse> getGetStatusMethod;
    if ((getGetStatusMethod = DecisionServiceGrpc.getGetStatusMethod) == null) {
      synchronized (DecisionServiceGrpc.class) {
        if ((getGetStatusMethod = DecisionServiceGrpc.getGetStatusMethod) == null) {
          DecisionServiceGrpc.getGetStatusMethod = getGetStatusMethod =
              io.grpc.MethodDescriptor.<quanze.v1.DecisionServiceOuterClass.GetStatusRequest, quanze.v1.DecisionServiceOuterClass.GetStatusResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "GetStatus"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  quanze.v1.DecisionServiceOuterClass.GetStatusRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  quanze.v1.DecisionServiceOuterClass.GetStatusResponse.getDefaultInstance()))
              .setSchemaDescriptor(new DecisionServiceMethodDescriptorSupplier("GetStatus"))
              .build();
        }
      }
    }
    return getGetStatusMethod;
  }

  /**
   * Creates a new async stub that supports all call types for the service
   */
  public static DecisionServiceStub newStub(io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<DecisionServiceStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<DecisionServiceStub>() {
        @java.lang.Override
        public DecisionServiceStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new DecisionServiceStub(channel, callOptions);
        }
      };
    return DecisionServiceStub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports unary and streaming output calls on the service
   */
  public static DecisionServiceBlockingStub newBlockingStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<DecisionServiceBlockingStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<DecisionServiceBlockingStub>() {
        @java.lang.Override
        public DecisionServiceBlockingStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new DecisionServiceBlockingStub(channel, callOptions);
        }
      };
    return DecisionServiceBlockingStub.newStub(factory, channel);
  }

  /**
   * Creates a new ListenableFuture-style stub that supports unary calls on the service
   */
  public static DecisionServiceFutureStub newFutureStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<DecisionServiceFutureStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<DecisionServiceFutureStub>() {
        @java.lang.Override
        public DecisionServiceFutureStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new DecisionServiceFutureStub(channel, callOptions);
        }
      };
    return DecisionServiceFutureStub.newStub(factory, channel);
  }

  /**
   * <pre>
   * DecisionService answers "may this subject take this action on this resource?"
   * </pre>
   */
  public static abstract class DecisionServiceImplBase implements io.grpc.BindableService {

    /**
     * <pre>
     * Check evaluates one request and returns one answer.
     * </pre>
     */
    public void check(quanze.v1.DecisionServiceOuterClass.CheckRequest request,
        io.grpc.stub.StreamObserver<quanze.v1.DecisionServiceOuterClass.CheckResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getCheckMethod(), responseObserver);
    }

    /**
     * <pre>
     * CheckBatch evaluates many requests that share defaults, answering in request order.
     * </pre>
     */
    public void checkBatch(quanze.v1.DecisionServiceOuterClass.CheckBatchRequest request,
        io.grpc.stub.StreamObserver<quanze.v1.DecisionServiceOuterClass.CheckBatchResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getCheckBatchMethod(), responseObserver);
    }

    /**
     * <pre>
     * ListAllowedActions returns the decision for every action of the catalog.
     * </pre>
     */
    public void listAllowedActions(quanze.v1.DecisionServiceOuterClass.ListAllowedActionsRequest request,
        io.grpc.stub.StreamObserver<quanze.v1.DecisionServiceOuterClass.ListAllowedActionsResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getListAllowedActionsMethod(), responseObserver);
    }

    /**
     * <pre>
     * GetStatus reports which policy revision serves, since when, the last revision refused and
     * why, and the decision log's counters (of the worker that answers).
     * </pre>
     */
    public void getStatus(quanze.v1.DecisionServiceOuterClass.GetStatusRequest request,
        io.grpc.stub.StreamObserver<quanze.v1.DecisionServiceOuterClass.GetStatusResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getGetStatusMethod(), responseObserver);
    }

    @java.lang.Override public final io.grpc.ServerServiceDefinition bindService() {
      return io.grpc.ServerServiceDefinition.builder(getServiceDescriptor())
          .addMethod(
            getCheckMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                quanze.v1.DecisionServiceOuterClass.CheckRequest,
                quanze.v1.DecisionServiceOuterClass.CheckResponse>(
                  this, METHODID_CHECK)))
          .addMethod(
            getCheckBatchMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                quanze.v1.DecisionServiceOuterClass.CheckBatchRequest,
                quanze.v1.DecisionServiceOuterClass.CheckBatchResponse>(
                  this, METHODID_CHECK_BATCH)))
          .addMethod(
            getListAllowedActionsMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                quanze.v1.DecisionServiceOuterClass.ListAllowedActionsRequest,
                quanze.v1.DecisionServiceOuterClass.ListAllowedActionsResponse>(
                  this, METHODID_LIST_ALLOWED_ACTIONS)))
          .addMethod(
            getGetStatusMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                quanze.v1.DecisionServiceOuterClass.GetStatusRequest,
                quanze.v1.DecisionServiceOuterClass.GetStatusResponse>(
                  this, METHODID_GET_STATUS)))
          .build();
    }
  }

  /**
   * <pre>
   * DecisionService answers "may this subject take this action on this resource?"
   * </pre>
   */
  public static final class DecisionServiceStub extends io.grpc.stub.AbstractAsyncStub<DecisionServiceStub> {
    private DecisionServiceStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected DecisionServiceStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new DecisionServiceStub(channel, callOptions);
    }

    /**
     * <pre>
     * Check evaluates one request and returns one answer.
     * </pre>
     */
    public void check(quanze.v1.DecisionServiceOuterClass.CheckRequest request,
        io.grpc.stub.StreamObserver<quanze.v1.DecisionServiceOuterClass.CheckResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getCheckMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * CheckBatch evaluates many requests that share defaults, answering in request order.
     * </pre>
     */
    public void checkBatch(quanze.v1.DecisionServiceOuterClass.CheckBatchRequest request,
        io.grpc.stub.StreamObserver<quanze.v1.DecisionServiceOuterClass.CheckBatchResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getCheckBatchMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * ListAllowedActions returns the decision for every action of the catalog.
     * </pre>
     */
    public void listAllowedActions(quanze.v1.DecisionServiceOuterClass.ListAllowedActionsRequest request,
        io.grpc.stub.StreamObserver<quanze.v1.DecisionServiceOuterClass.ListAllowedActionsResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getListAllowedActionsMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * GetStatus reports which policy revision serves, since when, the last revision refused and
     * why, and the decision log's counters (of the worker that answers).
     * </pre>
     */
    public void getStatus(quanze.v1.DecisionServiceOuterClass.GetStatusRequest request,
        io.grpc.stub.StreamObserver<quanze.v1.DecisionServiceOuterClass.GetStatusResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getGetStatusMethod(), getCallOptions()), request, responseObserver);
    }
  }

  /**
   * <pre>
   * DecisionService answers "may this subject take this action on this resource?"
   * </pre>
   */
  public static final class DecisionServiceBlockingStub extends io.grpc.stub.AbstractBlockingStub<DecisionServiceBlockingStub> {
    private DecisionServiceBlockingStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected DecisionServiceBlockingStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new DecisionServiceBlockingStub(channel, callOptions);
    }

    /**
     * <pre>
     * Check evaluates one request and returns one answer.
     * </pre>
     */
    public quanze.v1.DecisionServiceOuterClass.CheckResponse check(quanze.v1.DecisionServiceOuterClass.CheckRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getCheckMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * CheckBatch evaluates many requests that share defaults, answering in request order.
     * </pre>
     */
    public quanze.v1.DecisionServiceOuterClass.CheckBatchResponse checkBatch(quanze.v1.DecisionServiceOuterClass.CheckBatchRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getCheckBatchMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * ListAllowedActions returns the decision for every action of the catalog.
     * </pre>
     */
    public quanze.v1.DecisionServiceOuterClass.ListAllowedActionsResponse listAllowedActions(quanze.v1.DecisionServiceOuterClass.ListAllowedActionsRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getListAllowedActionsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * GetStatus reports which policy revision serves, since when, the last revision refused and
     * why, and the decision log's counters (of the worker that answers).
     * </pre>
     */
    public quanze.v1.DecisionServiceOuterClass.GetStatusResponse getStatus(quanze.v1.DecisionServiceOuterClass.GetStatusRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getGetStatusMethod(), getCallOptions(), request);
    }
  }

  /**
   * <pre>
   * DecisionService answers "may this subject take this action on this resource?"
   * </pre>
   */
  public static final class DecisionServiceFutureStub extends io.grpc.stub.AbstractFutureStub<DecisionServiceFutureStub> {
    private DecisionServiceFutureStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected DecisionServiceFutureStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new DecisionServiceFutureStub(channel, callOptions);
    }

    /**
     * <pre>
     * Check evaluates one request and returns one answer.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<quanze.v1.DecisionServiceOuterClass.CheckResponse> check(
        quanze.v1.DecisionServiceOuterClass.CheckRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getCheckMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * CheckBatch evaluates many requests that share defaults, answering in request order.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<quanze.v1.DecisionServiceOuterClass.CheckBatchResponse> checkBatch(
        quanze.v1.DecisionServiceOuterClass.CheckBatchRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getCheckBatchMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * ListAllowedActions returns the decision for every action of the catalog.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<quanze.v1.DecisionServiceOuterClass.ListAllowedActionsResponse> listAllowedActions(
        quanze.v1.DecisionServiceOuterClass.ListAllowedActionsRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getListAllowedActionsMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * GetStatus reports which policy revision serves, since when, the last revision refused and
     * why, and the decision log's counters (of the worker that answers).
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<quanze.v1.DecisionServiceOuterClass.GetStatusResponse> getStatus(
        quanze.v1.DecisionServiceOuterClass.GetStatusRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getGetStatusMethod(), getCallOptions()), request);
    }
  }

  private static final int METHODID_CHECK = 0;
  private static final int METHODID_CHECK_BATCH = 1;
  private static final int METHODID_LIST_ALLOWED_ACTIONS = 2;
  private static final int METHODID_GET_STATUS = 3;

  private static final class MethodHandlers<Req, Resp> implements
      io.grpc.stub.ServerCalls.UnaryMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.ServerStreamingMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.ClientStreamingMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.BidiStreamingMethod<Req, Resp> {
    private final DecisionServiceImplBase serviceImpl;
    private final int methodId;

    MethodHandlers(DecisionServiceImplBase serviceImpl, int methodId) {
      this.serviceImpl = serviceImpl;
      this.methodId = methodId;
    }

    @java.lang.Override
    @java.lang.SuppressWarnings("unchecked")
    public void invoke(Req request, io.grpc.stub.StreamObserver<Resp> responseObserver) {
      switch (methodId) {
        case METHODID_CHECK:
          serviceImpl.check((quanze.v1.DecisionServiceOuterClass.CheckRequest) request,
              (io.grpc.stub.StreamObserver<quanze.v1.DecisionServiceOuterClass.CheckResponse>) responseObserver);
          break;
        case METHODID_CHECK_BATCH:
          serviceImpl.checkBatch((quanze.v1.DecisionServiceOuterClass.CheckBatchRequest) request,
              (io.grpc.stub.StreamObserver<quanze.v1.DecisionServiceOuterClass.CheckBatchResponse>) responseObserver);
          break;
        case METHODID_LIST_ALLOWED_ACTIONS:
          serviceImpl.listAllowedActions((quanze.v1.DecisionServiceOuterClass.ListAllowedActionsRequest) request,
              (io.grpc.stub.StreamObserver<quanze.v1.DecisionServiceOuterClass.ListAllowedActionsResponse>) responseObserver);
          break;
        case METHODID_GET_STATUS:
          serviceImpl.getStatus((quanze.v1.DecisionServiceOuterClass.GetStatusRequest) request,
              (io.grpc.stub.StreamObserver<quanze.v1.DecisionServiceOuterClass.GetStatusResponse>) responseObserver);
          break;
        default:
          throw new AssertionError();
      }
    }

    @java.lang.Override
    @java.lang.SuppressWarnings("unchecked")
    public io.grpc.stub.StreamObserver<Req> invoke(
        io.grpc.stub.StreamObserver<Resp> responseObserver) {
      switch (methodId) {
        default:
          throw new AssertionError();
      }
    }
  }

  private static abstract class DecisionServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoFileDescriptorSupplier, io.grpc.protobuf.ProtoServiceDescriptorSupplier {
    DecisionServiceBaseDescriptorSupplier() {}

    @java.lang.Override
    public com.google.protobuf.Descriptors.FileDescriptor getFileDescriptor() {
      return quanze.v1.DecisionServiceOuterClass.getDescriptor();
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.ServiceDescriptor getServiceDescriptor() {
      return getFileDescriptor().findServiceByName("DecisionService");
    }
  }

  private static final class DecisionServiceFileDescriptorSupplier
      extends DecisionServiceBaseDescriptorSupplier {
    DecisionServiceFileDescriptorSupplier() {}
  }

  private static final class DecisionServiceMethodDescriptorSupplier
      extends DecisionServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoMethodDescriptorSupplier {
    private final String methodName;

    DecisionServiceMethodDescriptorSupplier(String methodName) {
      this.methodName = methodName;
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.MethodDescriptor getMethodDescriptor() {
      return getServiceDescriptor().findMethodByName(methodName);
    }
  }

  private static volatile io.grpc.ServiceDescriptor serviceDescriptor;

  public static io.grpc.ServiceDescriptor getServiceDescriptor() {
    io.grpc.ServiceDescriptor result = serviceDescriptor;
    if (result == null) {
      synchronized (DecisionServiceGrpc.class) {
        result = serviceDescriptor;
        if (result == null) {
          serviceDescriptor = result = io.grpc.ServiceDescriptor.newBuilder(SERVICE_NAME)
              .setSchemaDescriptor(new DecisionServiceFileDescriptorSupplier())
              .addMethod(getCheckMethod())
              .addMethod(getCheckBatchMethod())
              .addMethod(getListAllowedActionsMethod())
              .addMethod(getGetStatusMethod())
              .build();
        }
      }
    }
    return result;
  }
}
